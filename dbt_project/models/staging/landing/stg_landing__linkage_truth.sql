{#- Demo censuses only: the generator's record-to-person truth, one row per census line or
    register record (census lines and register records of the same person share `person`);
    empty for a real census. Restricted (record keys of named persons). -#}
with source as (
    select * from {{ source('raw', 'linkage_truth') }}
),

final as (
    select
        record_type,
        record_key,
        person
    from source
)

select * from final
