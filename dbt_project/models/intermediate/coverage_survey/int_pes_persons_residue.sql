{#- PES persons the ID number does not match. -#}
select p.*
from {{ ref('int_pes_persons') }} as p
-- NOT EXISTS, not NOT IN: Spark's nested loop over every pair
where not exists (select 1 from {{ ref('int_pes_id_matches') }} as m where m.person_no = p.record_id)
