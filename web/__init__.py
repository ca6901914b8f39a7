"""The web front end: moviebot in a browser and as a Telegram Mini App.

The same over HTTP as `bot.handlers` over Telegram: parse a request → call a service → render a
template. It is served by the bot's own process, in its event loop, over the same `Services`
(one database, one model: a /retrain swap is seen here at once). See docs/web.md.
"""
