-- Catalog queries behind `aef-db docs schema` (aef_db/schema_docs.py).
-- Everything is ordered by name, so the output is stable.

-- name: enums
select t.typname as name, obj_description(t.oid, 'pg_type') as comment,
       array_agg(e.enumlabel order by e.enumsortorder) as labels
  from pg_type t join pg_enum e on e.enumtypid = t.oid
 where t.typnamespace = 'public'::regnamespace and t.typname = any(%(enums)s)
 group by t.oid, t.typname
 order by array_position(%(enums)s, t.typname::text);

-- name: schema_comment
select obj_description(n.oid, 'pg_namespace') as comment from pg_namespace n where n.nspname = %(schema)s;

-- name: tables
select c.oid::regclass::text as name, c.relname, obj_description(c.oid, 'pg_class') as comment,
       c.relrowsecurity as rls, c.relreplident as replica_identity
  from pg_class c
 where c.relnamespace = %(schema)s::text::regnamespace and c.relname = any(%(tables)s)
 order by array_position(%(tables)s, c.relname::text);

-- name: columns
select a.attname as name, format_type(a.atttypid, a.atttypmod) as type, a.attnotnull as not_null,
       pg_get_expr(d.adbin, d.adrelid) as default_value, col_description(a.attrelid, a.attnum) as comment
  from pg_attribute a
  left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
 where a.attrelid = %(table)s::regclass and a.attnum > 0 and not a.attisdropped
 order by a.attnum;

-- name: constraints
select conname as name, contype as kind, pg_get_constraintdef(oid) as definition
  from pg_constraint
 where conrelid = %(table)s::regclass
 order by contype, conname;

-- name: indexes
select i.relname as name, pg_get_indexdef(i.oid) as definition, obj_description(i.oid, 'pg_class') as comment
  from pg_index x join pg_class i on i.oid = x.indexrelid
 where x.indrelid = %(table)s::regclass
 order by i.relname;

-- name: triggers
select t.tgname as name, t.tgenabled::text as enabled, pg_get_triggerdef(t.oid) as definition
  from pg_trigger t
 where t.tgrelid = %(table)s::regclass and not t.tgisinternal
 order by t.tgname;

-- name: policies
select policyname as name, cmd, roles::text[] as roles, qual, with_check
  from pg_policies
 where schemaname = %(schema)s and tablename = %(relname)s
 order by policyname;

-- name: grants
select grantee, string_agg(privilege_type, ', ' order by privilege_type) as privileges
  from information_schema.role_table_grants
 where table_schema = %(schema)s and table_name = %(relname)s and grantee in ('anon', 'authenticated', 'service_role')
 group by grantee
 order by grantee;

-- name: column_grants
select grantee, privilege_type, string_agg(column_name, ', ' order by column_name) as columns
  from information_schema.column_privileges c
 where table_schema = %(schema)s and table_name = %(relname)s and grantee in ('anon', 'authenticated')
   and not exists (select 1 from information_schema.role_table_grants t
                    where t.table_schema = c.table_schema and t.table_name = c.table_name
                      and t.grantee = c.grantee and t.privilege_type = c.privilege_type)
 group by grantee, privilege_type
 order by grantee, privilege_type;

-- name: functions
select p.oid::regprocedure::text as signature, pg_get_function_result(p.oid) as returns,
       p.prosecdef as security_definer, obj_description(p.oid, 'pg_proc') as comment,
       array_to_string(p.proconfig, '; ') as settings,
       (select string_agg(r.rolname, ', ' order by r.rolname) from pg_roles r
         where r.rolname in ('anon', 'authenticated', 'service_role') and has_function_privilege(r.oid, p.oid, 'execute')) as callers
  from pg_proc p
 where p.pronamespace = %(schema)s::text::regnamespace and (%(schema)s::text <> 'public' or p.proname like 'aef\_%%')
 order by p.proname;
