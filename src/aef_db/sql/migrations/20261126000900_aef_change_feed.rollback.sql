-- Rollback of 20261126000900 aef_change_feed.
set lock_timeout = '5s';
set statement_timeout = '60s';

drop publication aef_changes;
