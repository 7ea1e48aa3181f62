"""The broadcast composer: renders the stage into one HLS stream per Space (docs/broadcast.md)."""
