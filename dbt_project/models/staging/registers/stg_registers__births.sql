with source as (
    select * from {{ source('raw', 'birth_register') }}
),

final as (
    select
        certificate_no,
        trim(child_sex) as child_sex,
        {{ safe_date('trim(birth_date)') }} as birth_date,
        trim(hospital_region_code) as hospital_region_code,
        {{ safe_date('trim(extracted_on)') }} as extracted_on
    from source
)

select * from final
