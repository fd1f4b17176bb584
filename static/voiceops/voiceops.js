/* VoiceOps dashboards: draw charts and keep live figures fresh.
 *
 * Charts use Chart.js as shipped by the admin theme (unfold/js/chart/chart.js, loaded on every
 * admin page; no CDN). A <canvas data-vo-chart="ID"> is drawn from the JSON in
 * <script id="ID" type="application/json"> (Django's json_script).
 *
 * Live parts: an element with data-vo-poll="URL" fetches that JSON every few seconds and fills
 * its descendants: data-vo-text="key" (text), data-vo-width="key" (bar width in %),
 * data-vo-show="key" / data-vo-hide="key" (visibility), data-vo-href="key" (link target).
 * Polling stops when the JSON says "finished": true.
 */
(function () {
  "use strict";

  function installSuffixTicks(options) {
    var scales = (options && options.scales) || {};
    Object.keys(scales).forEach(function (name) {
      var ticks = scales[name].ticks;
      if (ticks && ticks.vo_suffix) {
        var suffix = ticks.vo_suffix;
        delete ticks.vo_suffix;
        ticks.callback = function (value) { return value + suffix; };
      }
    });
  }

  function drawCharts(root) {
    if (typeof window.Chart === "undefined") {
      return;
    }
    window.Chart.defaults.color = "#6b7280";
    window.Chart.defaults.font.family = "Inter, system-ui, sans-serif";
    root.querySelectorAll("canvas[data-vo-chart]").forEach(function (canvas) {
      if (canvas.voChart) {
        return;
      }
      var source = document.getElementById(canvas.dataset.voChart);
      if (!source) {
        return;
      }
      var config = JSON.parse(source.textContent);
      if (!config) {
        return;
      }
      config.options = config.options || {};
      config.options.responsive = true;
      config.options.maintainAspectRatio = false;
      config.options.animation = { duration: 350 };
      installSuffixTicks(config.options);
      canvas.voChart = new window.Chart(canvas, config);
    });
  }

  function format(value) {
    return typeof value === "number" ? value.toLocaleString() : String(value);
  }

  function fill(root, data) {
    root.querySelectorAll("[data-vo-text]").forEach(function (node) {
      var value = data[node.dataset.voText];
      if (value !== undefined && value !== null) {
        node.textContent = format(value);
      }
    });
    root.querySelectorAll("[data-vo-width]").forEach(function (node) {
      var value = data[node.dataset.voWidth];
      if (typeof value === "number") {
        node.style.width = value + "%";
      }
    });
    root.querySelectorAll("[data-vo-show]").forEach(function (node) {
      node.hidden = !data[node.dataset.voShow];
    });
    root.querySelectorAll("[data-vo-hide]").forEach(function (node) {
      node.hidden = Boolean(data[node.dataset.voHide]);
    });
    root.querySelectorAll("[data-vo-href]").forEach(function (node) {
      var value = data[node.dataset.voHref];
      if (value) {
        node.setAttribute("href", value);
      }
    });
  }

  function poll(root) {
    var url = root.dataset.voPoll;
    var every = parseInt(root.dataset.voEvery || "3000", 10);
    var failures = 0;
    function tick() {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          if (!response.ok) {
            throw new Error(response.status);
          }
          return response.json();
        })
        .then(function (data) {
          failures = 0;
          fill(root, data);
          root.dataset.voState = data.state || "";
          if (!data.finished) {
            window.setTimeout(tick, every);
          }
        })
        .catch(function () {
          failures += 1;
          if (failures < 20) {
            window.setTimeout(tick, every * 2);
          }
        });
    }
    window.setTimeout(tick, root.dataset.voNow ? 0 : every);
  }

  // "calls will start at 08:00": the chosen start time (local wall time, as typed) against the
  // campaign's calling hours "HH:MM-HH:MM" (equal bounds mean always).
  function callingHoursWarning(form) {
    var input = form.querySelector("input[type=datetime-local]");
    var hours = form.dataset.voCallingHours.split("-");
    if (!input || !input.value || hours[0] === hours[1]) {
      return "";
    }
    var time = input.value.slice(11, 16);
    var inside = hours[0] < hours[1] ? time >= hours[0] && time < hours[1] : time >= hours[0] || time < hours[1];
    return inside ? "" : form.dataset.voHoursWarning.replace("%(start)s", hours[0]);
  }

  function start() {
    drawCharts(document);
    document.querySelectorAll("[data-vo-poll]").forEach(poll);
    document.querySelectorAll("[data-vo-copy]").forEach(function (button) {
      button.addEventListener("click", function () {
        var source = document.getElementById(button.dataset.voCopy);
        var text = source ? source.textContent.trim() : "";
        var done = function () { button.title = button.dataset.voCopied || ""; button.classList.add("vo-copied"); };
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(text).then(done);
        } else {  // plain-HTTP consoles: select the text and copy it the old way
          var range = document.createRange();
          range.selectNodeContents(source);
          window.getSelection().removeAllRanges();
          window.getSelection().addRange(range);
          document.execCommand("copy");
          done();
        }
      });
    });
    document.querySelectorAll("form[data-vo-calling-hours]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        var warning = callingHoursWarning(form);
        if (warning && !window.confirm(warning)) {
          event.preventDefault();
        }
      });
    });
    document.querySelectorAll("form[data-vo-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.dataset.voConfirm)) {
          event.preventDefault();
        }
      });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
