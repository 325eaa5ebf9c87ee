-- Queries of the embedded cluster's bootstrap (aef_db/cluster/bootstrap.py).

-- name: set_owner_password
select set_config('aef_db.owner_password', %(password)s, true);
