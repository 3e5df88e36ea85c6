"""Order generators per channel kind: `sandbox.generators.<kind>.generate(store, count, mix=, seed=)`."""

import importlib


def get(kind: str):
    try:
        return importlib.import_module(f"sandbox.generators.{kind}").generate
    except ModuleNotFoundError:
        return None
