"""The xpha database: settings, the embedded PostgreSQL cluster, migrations and connections.

Everything else in xpha imports its connection and schema facts from here.
"""
