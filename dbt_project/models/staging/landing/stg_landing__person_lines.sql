{#- One row per person line of an accepted submission: item values read from JSON,
    codes normalised ("01" = "1"), wrong types read as missing. Names and ID numbers:
    restricted. -#}
with source as (
    select * from {{ source('raw', 'person_lines') }}
),

{{ person_line_items('source') }}
