{#- One row per accepted post-enumeration survey submission (pes/), kept apart from the census
    submissions and typed as the census's are: the survey's models read its household, EA and
    county from here. Restricted. -#}
with source as (
    select * from {{ source('raw', 'pes_submissions') }}
),

{{ submission_items('source') }}
