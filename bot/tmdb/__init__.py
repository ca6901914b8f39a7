"""Movie metadata from The Movie Database (TMDb): the API client, matching catalogue movies to
TMDb's, and the `moviebot data enrich` run that stores what it finds (`storage.metadata`).

This product uses the TMDB API but is not endorsed or certified by TMDB.
"""
