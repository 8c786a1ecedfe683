{#- Register records that no valid ID number links: what probabilistic linkage compares. NOT EXISTS,
    not NOT IN: Spark plans a NOT IN over a table too large to broadcast as a nested loop over
    every pair (the keys are never null: the same rows either way). -#}
select r.*
from {{ ref('int_linkage_register') }} as r
where not exists (select 1 from {{ ref('int_linkage_id_links') }} as l where l.person_no = r.record_id)
