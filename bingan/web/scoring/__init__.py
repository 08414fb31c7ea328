"""Final quality scoring pages (终末质控) and its JSON API."""
