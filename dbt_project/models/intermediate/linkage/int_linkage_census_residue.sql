{#- Census records that no valid ID number links to the register: without a valid ID, or with a
    valid ID the register does not hold (registered elsewhere, or the register's ID is wrong). A
    join to the register's distinct IDs, not IN (subquery) under NOT: Spark planned that as a
    nested loop over every census record and register ID (it ran for minutes at 1 M persons). -#}
with register_ids as (
    select distinct id_number from {{ ref('int_linkage_register') }} where id_number is not null
)

select c.*
from {{ ref('int_linkage_census') }} as c
left join register_ids as r on r.id_number = c.id_number
where not (c.has_valid_id and r.id_number is not null)
