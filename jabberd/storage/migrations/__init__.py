"""
Alembic migrations for jabberd's built-in tables.

There is no C{alembic.ini}: L{jabberd.storage.database.Database} builds the
Alembic configuration in code, points C{script_location} at this package
and hands C{env.py} an open connection.  Operators apply migrations with
C{jabberctl db upgrade}; the server checks the revision at start-up.
"""
