"""Running the app on a laptop: AWS from moto's server, Lark from the sandbox, no credentials."""
