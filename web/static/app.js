// moviebot web: a little progressive enhancement. Every page works without this file.
(function () {
  "use strict";
  var TELEGRAM_JS = "https://telegram.org/js/telegram-web-app.js";

  // -- inside Telegram: the Mini App's launch parameters arrive in the URL fragment ---------
  function launchParams() {
    var hash = window.location.hash.slice(1);
    if (hash.indexOf("tgWebAppData=") === -1) return null;
    var params = new URLSearchParams(hash);
    return { initData: params.get("tgWebAppData") || "", theme: params.get("tgWebAppThemeParams") };
  }

  function applyTheme(theme) {
    if (!theme) return;
    var root = document.documentElement;
    Object.keys(theme).forEach(function (key) {
      if (/^[a-z_]+$/.test(key) && /^#[0-9a-fA-F]{3,8}$/.test(theme[key])) {
        root.style.setProperty("--tg-" + key.replace(/_/g, "-"), theme[key]);
      }
    });
    root.classList.add("tg");
  }

  function rememberTheme(raw) {
    try {
      var theme = typeof raw === "string" ? JSON.parse(raw) : raw;
      if (theme) sessionStorage.setItem("tg-theme", JSON.stringify(theme));
      applyTheme(theme);
    } catch (e) { /* a theme we cannot read: keep ours */ }
  }

  // Telegram's script only inside Telegram (it cannot be fetched offline, and a plain browser
  // has no use for it); the page never waits for it.
  function loadTelegram() {
    var script = document.createElement("script");
    script.src = TELEGRAM_JS;
    script.async = true;
    script.onload = function () {
      var app = window.Telegram && window.Telegram.WebApp;
      if (!app) return;
      app.ready();
      rememberTheme(app.themeParams);
      if (app.onEvent) app.onEvent("themeChanged", function () { rememberTheme(app.themeParams); });
    };
    document.head.appendChild(script);
  }

  function signInWithTelegram(initData) {
    var note = document.getElementById("miniapp-signin");
    if (note) note.hidden = false;
    fetch("/auth/telegram", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ init_data: initData }).toString()
    }).then(function (response) {
      if (response.ok) {
        sessionStorage.setItem("tg-signed-in", "1");
        window.location.replace(window.location.pathname + window.location.search);
      } else if (note) {
        note.textContent = "Telegram's sign-in was refused: close the app and open it again.";
      }
    });
  }

  var launch = launchParams();
  if (launch) {
    sessionStorage.setItem("tg", "1");
    if (launch.theme) rememberTheme(launch.theme);
  } else {
    var saved = sessionStorage.getItem("tg-theme");
    if (saved) { try { applyTheme(JSON.parse(saved)); } catch (e) { /* ignore */ } }
  }
  if (sessionStorage.getItem("tg")) loadTelegram();

  document.addEventListener("DOMContentLoaded", function () {
    var error = document.getElementById("error");
    if (launch && launch.initData && error && error.dataset.status === "401") {
      signInWithTelegram(launch.initData);
    }
    liveSearch();
    liveVotes();
  });

  // -- search as you type --------------------------------------------------------------------
  function liveSearch() {
    var input = document.getElementById("q");
    var list = document.getElementById("live-results");
    if (!input || !list) return;
    var timer = null, asked = 0;
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var query = input.value.trim();
        var mine = ++asked;
        if (!query) { list.replaceChildren(); return; }
        fetch("/api/search?q=" + encodeURIComponent(query), { credentials: "same-origin" })
          .then(function (r) { return r.ok ? r.json() : null; })
          .then(function (found) {
            if (!found || mine !== asked) return;
            var shown = found.movies.length ? found.movies : found.suggestions;
            list.replaceChildren.apply(list, shown.map(function (movie) {
              var item = document.createElement("li");
              var link = document.createElement("a");
              link.href = movie.url;
              link.textContent = movie.label;
              item.appendChild(link);
              return item;
            }));
            if (!shown.length) {
              var none = document.createElement("li");
              none.textContent = "No movie by that name yet: keep typing.";
              list.appendChild(none);
            }
          });
      }, 150);
    });
  }

  // -- a movie night's live vote count -------------------------------------------------------
  function liveVotes() {
    var night = document.getElementById("night");
    if (!night || night.dataset.status !== "voting") return;
    setInterval(function () {
      fetch("/api/nights/" + night.dataset.night, { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          if (!data) return;
          document.querySelectorAll(".vote-count").forEach(function (cell) {
            var n = data.tally[Number(cell.dataset.position)];
            cell.textContent = n === undefined ? "0" : String(n);
          });
          var voters = document.getElementById("voters");
          if (voters) voters.textContent = String(data.voters);
        });
    }, 5000);
  }
})();
