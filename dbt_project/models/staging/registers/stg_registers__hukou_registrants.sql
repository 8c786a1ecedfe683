with source as (
    select * from {{ source('raw', 'hukou_register') }}
),

final as (
    select
        person_no,
        {{ normalise_id_number('id_number') }} as id_number,
        trim(name) as person_name,
        trim(sex) as sex,
        {{ safe_date('trim(birth_date)') }} as birth_date,
        trim(hukou_region_code) as hukou_region_code,
        trim(hukou_township_code) as hukou_township_code,
        trim(status) as status,
        trim(status) = '1' as is_active,
        {{ safe_date('trim(extracted_on)') }} as extracted_on
    from source
)

select * from final
