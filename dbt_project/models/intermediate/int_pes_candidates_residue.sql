{#- Candidate census records no PES person matched on the ID number. -#}
select c.*
from {{ ref('int_pes_candidates') }} as c
where c.record_id not in (select census_record_id from {{ ref('int_pes_id_matches') }})
