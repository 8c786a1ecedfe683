{#- Census records a PES person may match: counted records in the townships of the sampled
    EAs (the EA and its neighbours, for geocoding errors), with the linkage keys. -#}
select c.*
from {{ ref('int_linkage_census') }} as c
where c.is_counted
  and substr(c.ea_code, 1, 9) in (select distinct substr(ea_code, 1, 9) from {{ source('raw', 'pes_submissions') }})
