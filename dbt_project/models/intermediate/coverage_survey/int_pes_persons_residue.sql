{#- PES persons the ID number does not match. -#}
select p.*
from {{ ref('int_pes_persons') }} as p
where p.record_id not in (select person_no from {{ ref('int_pes_id_matches') }})
