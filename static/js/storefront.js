// Small storefront behaviours kept out of the templates, so no inline handler needs the CSP.
(function () {
  "use strict";
  // <select data-autosubmit>: submit its form on change (the category sort).
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target && target.matches && target.matches("[data-autosubmit]") && target.form) {
      target.form.submit();
    }
  });
})();
