/* Embeds the consultation form in a page of the prefecture's site:
     <div id="dx-desk-form"></div>
     <script src="https://API/form/static/embed.js" data-lang="ja" async></script>
   The frame grows with its content; nothing else crosses between the pages. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !window.URL) {
    return;
  }
  var container = document.getElementById(script.getAttribute("data-container") || "dx-desk-form");
  if (!container) {
    return;
  }
  var lang = script.getAttribute("data-lang") === "en" ? "en" : "ja";
  var source = new URL("../input?embed=1&lang=" + lang, script.src);
  var frame = document.createElement("iframe");
  frame.src = source.href;
  frame.title = lang === "en" ? "DX consultation request form" : "DX相談の申込みフォーム";
  frame.style.display = "block";
  frame.style.width = "100%";
  frame.style.minHeight = "40rem";
  frame.style.border = "0";
  container.appendChild(frame);

  window.addEventListener("message", function (event) {
    if (event.origin !== source.origin || event.source !== frame.contentWindow) {
      return;
    }
    var data = event.data || {};
    if (data.type === "dx-desk:height" && typeof data.height === "number" && data.height > 0) {
      frame.style.height = Math.ceil(data.height) + "px";
    } else if (data.type === "dx-desk:step") {
      frame.scrollIntoView({ block: "start" });
    }
  });
})();
