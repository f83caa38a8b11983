// The deep-linking response goes back to the LMS by a form post (LTI Deep Linking 2.0 §4.2);
// it is sent at once, and the button stays for a browser that runs no script.
"use strict";
(function () {
  var form = document.getElementById("lti-return");
  if (form) form.submit();
})();
