{#- Register records that no valid ID number links: what probabilistic linkage compares. -#}
select r.*
from {{ ref('int_linkage_register') }} as r
where r.record_id not in (select person_no from {{ ref('int_linkage_id_links') }})
