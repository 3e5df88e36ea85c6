"""Django's SQLite backend, told the real limit on query parameters.

Django assumes SQLite's old compile-time default of 999 variables per statement, so a bulk
insert of 100 orders (35 columns) is split into four statements. SQLite 3.32+ allows 32,766;
with the true limit a page of orders is written in one statement whatever its size."""

import sqlite3

from django.db.backends.sqlite3 import base, features


class DatabaseFeatures(features.DatabaseFeatures):
    max_query_params = 32766 if sqlite3.sqlite_version_info >= (3, 32) else 999


class DatabaseWrapper(base.DatabaseWrapper):
    features_class = DatabaseFeatures
