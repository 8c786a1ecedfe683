{{ config(materialized="view") }}
{#- Census records a PES person may match: counted records in the townships of the sampled
    EAs (the EA and its neighbours, for geocoding errors), with the linkage keys. A view: at
    Hangzhou's size the sampled EAs' townships hold nearly everyone (11.4 M records), and a
    table was a 24-second copy of int_linkage_census for a residue model and a few linkage reads. -#}
select c.*
from {{ ref('int_linkage_census') }} as c
where c.is_counted
  and substr(c.ea_code, 1, 9) in (select distinct substr(ea_code, 1, 9) from {{ ref('stg_landing__pes_submissions') }})
