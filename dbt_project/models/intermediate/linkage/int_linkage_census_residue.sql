{#- Census records that no valid ID number links to the register: without a valid ID, or with a
    valid ID the register does not hold (registered elsewhere, or the register's ID is wrong). -#}
with register_ids as (
    select distinct id_number from {{ ref('int_linkage_register') }} where id_number is not null
)

select c.*
from {{ ref('int_linkage_census') }} as c
where not (c.has_valid_id and c.id_number in (select id_number from register_ids))
