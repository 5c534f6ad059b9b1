// Agent connectors: the embeddable connect button (issue 25). No framework, no build step.
//
//   <script src="https://CONNECTORS_SERVER/connect/button.js"></script>
//   <button data-agent-connect-url="CONNECT_URL">Connect your email</button>
//   <script>
//     document.addEventListener("agent-connectors:connect", function (e) {
//       // e.detail: {connector_id} or {error, error_description}
//     });
//   </script>
//
// or AgentConnectors.open(CONNECT_URL, {onResult: function (r) {...}}).
//
// The connect page opens in a popup; when it ends it posts its result to this page, but only
// when this page's origin is on the organization's redirect allow-list. Results are accepted
// only from the connect server's origin. When the popup is blocked the page itself goes to
// the connect URL (plain redirect): the end user comes back to the session's redirect_url.
(function () {
  "use strict";
  var TYPE = "agent-connectors:connect";
  var script = document.currentScript;
  var server = script && script.src ? new URL(script.src).origin : window.location.origin;

  function open(connectUrl, options) {
    options = options || {};
    var url = new URL(connectUrl, window.location.href);
    if (url.origin !== server) {
      throw new Error("the connect URL must be on " + server);
    }
    var popupUrl = new URL(url.href);
    popupUrl.searchParams.set("mode", "popup");
    popupUrl.searchParams.set("origin", window.location.origin);
    var popup = window.open(popupUrl.href, "agent-connectors-connect",
      "popup,width=520,height=720");
    if (!popup) {
      window.location.assign(url.href);
      return null;
    }
    function onMessage(event) {
      if (event.origin !== server || event.source !== popup) return;
      var data = event.data;
      if (!data || data.type !== TYPE) return;
      window.removeEventListener("message", onMessage);
      var detail = {};
      ["connector_id", "error", "error_description"].forEach(function (k) {
        if (typeof data[k] === "string") detail[k] = data[k];
      });
      if (typeof options.onResult === "function") options.onResult(detail);
      var target = options.element || document;
      target.dispatchEvent(new CustomEvent(TYPE, { detail: detail, bubbles: true }));
    }
    window.addEventListener("message", onMessage);
    return popup;
  }

  document.addEventListener("click", function (event) {
    var el = event.target && event.target.closest
      ? event.target.closest("[data-agent-connect-url]")
      : null;
    if (!el) return;
    event.preventDefault();
    open(el.getAttribute("data-agent-connect-url"), { element: el });
  });

  window.AgentConnectors = { open: open };
})();
