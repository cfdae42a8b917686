/* Progressive enhancement of the consultation form: inline validation, steps
   without page reloads, submission to the JSON API. Without this file every
   step still works through plain form posts. */
(function () {
  "use strict";

  var main = document.getElementById("main");
  if (!main || !window.fetch || !window.FormData || !window.URLSearchParams || !window.DOMParser) {
    return;
  }
  var embedded = document.body.classList.contains("embedded") && window.parent !== window;
  var savedInput = null; // the input step's nodes, values and all, while the confirm step shows
  var savedTitle = "";
  var touched = {};

  /* ja, en or easy (やさしい日本語, whose <html lang> is ja). */
  var pageLang = document.body.getAttribute("data-lang") || "ja";
  var english = pageLang === "en";
  var langQuery = pageLang === "ja" ? "" : "?lang=" + pageLang;
  var LIST_FIELDS = { support_types: true };
  var BOOL_FIELDS = { privacy_consent: true };
  var PAGE_FIELDS = { lang: true, embed: true, action: true };

  function tellParent(message) {
    if (embedded) {
      window.parent.postMessage(message, "*");
    }
  }

  /* The body's own height: the document's scroll height never drops below the
     frame's current height, so a frame sized by it could grow but never shrink. */
  function reportHeight() {
    tellParent({ type: "dx-desk:height", height: Math.ceil(document.body.getBoundingClientRect().height) });
  }

  function focusElement(element) {
    if (element) {
      element.focus();
    }
  }

  function asJson(form) {
    var data = {};
    new FormData(form).forEach(function (value, name) {
      if (PAGE_FIELDS[name]) {
        return;
      }
      if (LIST_FIELDS[name]) {
        (data[name] = data[name] || []).push(value);
      } else if (BOOL_FIELDS[name]) {
        data[name] = value === "true" || value === "on";
      } else {
        data[name] = value;
      }
    });
    Object.keys(LIST_FIELDS).forEach(function (name) {
      if (!data[name]) {
        data[name] = [];
      }
    });
    Object.keys(BOOL_FIELDS).forEach(function (name) {
      if (!(name in data)) {
        data[name] = false;
      }
    });
    return data;
  }

  function postUrlencoded(url, form) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(new FormData(form)).toString()
    });
  }

  function postJson(url, data) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(data)
    });
  }

  /* The language links show on the input step only, as the server renders them:
     switching on a later step would leave what was typed behind. */
  function syncLanguageLinks() {
    var links = document.querySelector(".lang-switch");
    if (links) {
      links.hidden = !document.getElementById("consultation-form");
    }
  }

  /* Replace <main> with the <main> of a page the server rendered. */
  function showPage(html) {
    var page = new DOMParser().parseFromString(html, "text/html");
    var incoming = page.getElementById("main");
    if (!incoming) {
      return false;
    }
    main.replaceChildren.apply(main, Array.prototype.slice.call(incoming.childNodes));
    document.title = page.title;
    syncLanguageLinks();
    enhance();
    var summary = document.getElementById("error-summary");
    if (summary && !summary.hidden) {
      focusElement(summary);
    } else {
      focusElement(document.getElementById("step-heading"));
    }
    tellParent({ type: "dx-desk:step" });
    reportHeight();
    return true;
  }

  function setFieldError(name, message, html) {
    var error = document.getElementById("error-" + name);
    var container = main.querySelector('[data-field="' + name + '"]');
    if (!error || !container) {
      return;
    }
    var controls = container.querySelectorAll("input, select, textarea");
    var describedBy = container.tagName === "FIELDSET" ? [container] : Array.prototype.slice.call(controls);
    error.textContent = "";
    if (message) {
      var prefix = document.createElement("span");
      prefix.className = "visually-hidden";
      prefix.textContent = english ? "Error: " : "エラー：";
      error.appendChild(prefix);
      if (html) {
        /* The server escaped it; only its <ruby> readings are markup. */
        var text = document.createElement("span");
        text.innerHTML = html;
        error.appendChild(text);
      } else {
        error.appendChild(document.createTextNode(message));
      }
      error.hidden = false;
      container.classList.add("has-error");
    } else {
      error.hidden = true;
      container.classList.remove("has-error");
    }
    describedBy.forEach(function (element) {
      var ids = (element.getAttribute("aria-describedby") || "").split(/\s+/).filter(function (id) {
        return id && id !== error.id;
      });
      if (message) {
        ids.push(error.id);
      }
      if (ids.length) {
        element.setAttribute("aria-describedby", ids.join(" "));
      } else {
        element.removeAttribute("aria-describedby");
      }
    });
    Array.prototype.forEach.call(controls, function (control) {
      if (message) {
        control.setAttribute("aria-invalid", "true");
      } else {
        control.removeAttribute("aria-invalid");
      }
    });
    reportHeight();
  }

  /* Inline validation: the server's own rules, shown for fields the person has left. */
  function checkField(form, name) {
    postJson("check" + langQuery, asJson(form)).then(function (response) {
      if (response.status === 200) {
        setFieldError(name, "");
        return null;
      }
      if (response.status !== 422) {
        return null;
      }
      return response.json().then(function (body) {
        var found = (body.errors || []).filter(function (err) {
          return err.field === name;
        })[0];
        setFieldError(
          name,
          found ? (english ? found.message_en : found.message) : "",
          found && !english ? found.message_html : ""
        );
      });
    }).catch(function () {
      /* Offline or server trouble: the check on 確認 still runs. */
    });
  }

  var dirty = false;
  var leaving = false;
  /* Warn before a typed form is left by accident (a link, the back button, closing the tab). */
  window.addEventListener("beforeunload", function (event) {
    if (dirty && !leaving) {
      event.preventDefault();
      event.returnValue = "";
    }
  });

  /* The message's character count: counted as the server counts (code points, after NFC
     and with CRLF as one line end), never while an IME is still composing, never blocking
     typing. The visible count follows each change; screen readers hear it once the person
     pauses, not at every keystroke. */
  function enhanceCount(area) {
    var max = parseInt(area.getAttribute("data-count"), 10);
    var shown = document.getElementById("count-" + area.name);
    var live = document.getElementById("count-" + area.name + "-live");
    if (!max || !shown || !live) {
      return;
    }
    var composing = false;
    var timer = null;
    function words() {
      var value = area.value.replace(/\r\n?/g, "\n");
      var length = Array.from(value.normalize ? value.normalize("NFC") : value).length;
      var over = length > max;
      var n = over ? length - max : max - length;
      var text = (over ? shown.getAttribute("data-over") : shown.getAttribute("data-left"))
        .replace("{n}", String(n));
      return { text: text, over: over };
    }
    function update() {
      if (composing) {
        return;
      }
      var now = words();
      shown.textContent = now.text;
      shown.classList.toggle("over", now.over);
      shown.hidden = false;
      if (timer) {
        clearTimeout(timer);
      }
      timer = setTimeout(function () {
        live.textContent = words().text;
      }, 1500);
    }
    area.addEventListener("compositionstart", function () {
      composing = true;
    });
    area.addEventListener("compositionend", function () {
      composing = false;
      update();
    });
    area.addEventListener("input", update);
    var start = words();
    shown.textContent = start.text;
    shown.classList.toggle("over", start.over);
    shown.hidden = false;
    reportHeight();
  }

  function enhanceInput(form) {
    form.addEventListener("input", function () {
      dirty = true;
    });
    Array.prototype.forEach.call(form.querySelectorAll("textarea[data-count]"), enhanceCount);
    form.addEventListener("focusout", function (event) {
      var name = event.target && event.target.name;
      if (!name || PAGE_FIELDS[name] || name === "form_token" || name === "website") {
        return;
      }
      var container = main.querySelector('[data-field="' + name + '"]');
      if (container && container.contains(event.relatedTarget)) {
        return; /* still inside the same group of choices */
      }
      touched[name] = true;
      checkField(form, name);
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var button = document.getElementById("to-confirm");
      if (button) {
        button.disabled = true;
      }
      postUrlencoded("confirm", form).then(function (response) {
        return response.text();
      }).then(function (html) {
        var fragment = document.createDocumentFragment();
        var keep = Array.prototype.slice.call(main.childNodes);
        if (button) {
          button.disabled = false;
        }
        keep.forEach(function (node) {
          fragment.appendChild(node);
        });
        savedInput = fragment;
        savedTitle = document.title;
        if (!showPage(html)) {
          main.replaceChildren(savedInput);
          savedInput = null;
          leaving = true;
          form.submit();
          return;
        }
        if (document.getElementById("consultation-form")) {
          savedInput = null; /* the server answered with the input step (errors) */
        }
      }).catch(function () {
        if (button) {
          button.disabled = false;
        }
        leaving = true;
        form.submit(); /* let the browser post it the plain way */
      });
    });
  }

  function showDone(form, receiptNumber, held) {
    var template = document.getElementById(held ? "held-template" : "done-template");
    if (!template) {
      return false;
    }
    var done = template.content.cloneNode(true);
    var number = done.getElementById ? done.getElementById("receipt-number") : done.querySelector("#receipt-number");
    number.textContent = receiptNumber;
    main.replaceChildren(done);
    syncLanguageLinks();
    document.title = form.getAttribute("data-done-title") || document.title;
    focusElement(document.getElementById("step-heading"));
    tellParent({ type: "dx-desk:step" });
    reportHeight();
    return true;
  }

  function showNotice(form, text) {
    var notice = main.querySelector(".notice");
    if (!notice) {
      notice = document.createElement("div");
      notice.className = "notice";
      notice.setAttribute("role", "alert");
      notice.appendChild(document.createElement("p"));
      form.parentNode.insertBefore(notice, form);
    }
    notice.querySelector("p").textContent = text;
    reportHeight();
  }

  function enhanceConfirm(form) {
    var back = document.getElementById("back");
    var send = document.getElementById("submit");
    var sending = document.getElementById("sending");
    if (back) {
      back.addEventListener("click", function (event) {
        if (!savedInput) {
          return; /* no kept input step: the server renders it */
        }
        event.preventDefault();
        main.replaceChildren(savedInput);
        savedInput = null;
        document.title = savedTitle;
        syncLanguageLinks();
        enhance();
        focusElement(document.getElementById("step-heading"));
        tellParent({ type: "dx-desk:step" });
        reportHeight();
      });
    }
    if (!send) {
      return;
    }
    send.addEventListener("click", function (event) {
      event.preventDefault();
      send.disabled = true;
      if (sending) {
        sending.hidden = false;
      }
      postJson("../consultations" + langQuery, asJson(form)).then(function (response) {
        return response.json().then(function (body) {
          return { status: response.status, body: body };
        });
      }).then(function (answer) {
        if (answer.status === 201 && answer.body.receipt_number &&
            showDone(form, answer.body.receipt_number, answer.body.status === "suspected_spam")) {
          savedInput = null;
          dirty = false; /* sent: nothing left to lose */
          return;
        }
        send.disabled = false;
        if (sending) {
          sending.hidden = true;
        }
        if (answer.status === 422) {
          /* Let the server show the input step with its messages. */
          var action = document.createElement("input");
          action.type = "hidden";
          action.name = "action";
          action.value = "send";
          form.appendChild(action);
          leaving = true;
          form.submit();
          return;
        }
        if (answer.status === 409 && answer.body.form_token) {
          /* Not stored: one more press of 送信する sends it, with the fresh token. */
          var token = form.querySelector('input[name="form_token"]');
          if (token) {
            token.value = answer.body.form_token;
          }
        }
        showNotice(form, english ? answer.body.message_en : answer.body.message);
      }).catch(function () {
        send.disabled = false;
        if (sending) {
          sending.hidden = true;
        }
        showNotice(form, form.getAttribute("data-network-error"));
      });
    });
  }

  /* Wire each form once: the input step comes back (修正する) with its listeners. */
  function enhance() {
    var input = document.getElementById("consultation-form");
    if (input && !input.hasAttribute("data-enhanced")) {
      input.setAttribute("data-enhanced", "");
      enhanceInput(input);
    }
    var confirm = document.getElementById("confirm-form");
    if (confirm && !confirm.hasAttribute("data-enhanced")) {
      confirm.setAttribute("data-enhanced", "");
      enhanceConfirm(confirm);
    }
  }

  enhance();
  var summary = document.getElementById("error-summary");
  if (summary && !summary.hidden) {
    focusElement(summary);
  }
  if (embedded) {
    if (window.ResizeObserver) {
      new ResizeObserver(reportHeight).observe(document.body);
    }
    window.addEventListener("load", reportHeight);
    reportHeight();
  }
})();
