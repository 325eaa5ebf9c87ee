"""Live changes: Supabase Broadcast from the database, and the Python change feed."""
