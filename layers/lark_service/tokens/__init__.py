"""Access tokens: where they are kept, how they are fetched, and how instances share them."""
