{{ config(materialized="view") }}
{#- Candidate census records no PES person matched on the ID number. A view: at Hangzhou's size
    it is 11 M records, and the matching reads it twice (its size, then the records sharing a
    blocking key with a PES person), which costs less than a 23-second copy. -#}
select c.*
from {{ ref('int_pes_candidates') }} as c
-- NOT EXISTS, not NOT IN: Spark's nested loop over every pair
where not exists (select 1 from {{ ref('int_pes_id_matches') }} as m where m.census_record_id = c.record_id)
