-- Queries of the embedded cluster manager (aef_db/cluster.py).

-- name: set_owner_password
select set_config('aef_db.owner_password', %(password)s, true);
