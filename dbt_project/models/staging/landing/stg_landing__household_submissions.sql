{#- One row per accepted census submission, typed, with its township and village codes. -#}
with source as (
    select * from {{ source('raw', 'household_submissions') }}
),

{{ submission_items('source') }}
