{#- One row per person line of the post-enumeration survey, items read as the census's are.
    Names and ID numbers: restricted. -#}
with source as (
    select * from {{ source('raw', 'pes_person_lines') }}
),

{{ person_line_items('source') }}
