// The connect page's script (served from /connect/assets/connect.js: the page allows no
// inline script). In a popup it posts the result to the opener, only to the origin the server
// allowed (never "*"), and closes; without an opener it goes back to the application.
(function () {
  "use strict";
  function post(message, target) {
    if (!window.opener || !target) return false;
    try {
      window.opener.postMessage(message, target);
    } catch (e) {
      return false;
    }
    return true;
  }
  function ready() {
    var result = document.getElementById("result");
    if (result) {
      var message = JSON.parse(result.getAttribute("data-message") || "{}");
      var target = result.getAttribute("data-target-origin");
      var back = result.getAttribute("data-back");
      if (post(message, target)) {
        window.close();
      } else if (!window.opener && back) {
        window.location.replace(back);
      }
    }
    var cancel = document.getElementById("cancel");
    if (cancel && window.opener) {
      cancel.addEventListener("click", function (event) {
        var target = cancel.getAttribute("data-target-origin");
        var message = JSON.parse(cancel.getAttribute("data-message") || "{}");
        if (post(message, target)) {
          event.preventDefault();
          window.close();
        }
      });
    }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", ready);
  } else {
    ready();
  }
})();
