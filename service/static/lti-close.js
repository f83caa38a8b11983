// LTI Dynamic Registration 1.0 §3.6: the tool tells the LMS it is done, and the LMS closes
// its registration window. The message goes to the window that opened or frames us.
"use strict";
(function () {
  var button = document.getElementById("lti-close");
  if (!button) return;
  button.addEventListener("click", function () {
    var lms = window.opener || window.parent;
    if (lms && lms !== window) {
      lms.postMessage({ subject: "org.imsglobal.lti.close" }, "*");
    } else {
      window.close();
    }
  });
})();
