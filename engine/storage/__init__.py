"""Storage: the database, the unit of work and its writes, the schema and its migrations, repositories."""
