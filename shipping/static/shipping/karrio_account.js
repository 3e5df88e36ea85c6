// Carrier account form: show the direct-carrier fields only for that kind, and only the
// credentials of the chosen carrier.
(function () {
  function update() {
    var kind = document.getElementById("id_kind");
    var carrier = document.getElementById("id_karrio_carrier");
    if (!kind || !carrier) return;
    var direct = kind.value === "karrio";
    document.querySelectorAll("fieldset.karrio-account").forEach(function (f) {
      f.style.display = direct ? "" : "none";
    });
    document.querySelectorAll("fieldset.karrio-credentials").forEach(function (f) {
      f.style.display = direct && f.classList.contains("karrio-credentials-" + carrier.value) ? "" : "none";
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    update();
    ["id_kind", "id_karrio_carrier"].forEach(function (id) {
      var el = document.getElementById(id);
      if (el) el.addEventListener("change", update);
    });
  });
})();
