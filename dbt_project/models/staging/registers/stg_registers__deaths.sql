with source as (
    select * from {{ source('raw', 'death_register') }}
),

final as (
    select
        record_no,
        {{ normalise_id_number('id_number') }} as id_number,
        trim(sex) as sex,
        {{ safe_date('trim(death_date)') }} as death_date,
        trim(region_code) as region_code,
        {{ safe_date('trim(extracted_on)') }} as extracted_on
    from source
)

select * from final
