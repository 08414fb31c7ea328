"""Storage: the database (SQLAlchemy models, migrations) and the encrypted blob stores."""
