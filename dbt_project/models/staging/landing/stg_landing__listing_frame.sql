with source as (
    select * from {{ source('raw', 'listing_frame') }}
),

final as (
    select
        household_id,
        ea_code,
        substr(ea_code, 1, 6) as county_code,
        substr(ea_code, 1, 9) as township_code,
        urban_rural_code,
        household_type,
        try_cast(expected_persons as integer) as expected_persons,
        try_cast(listed_on as date) as listed_on
    from source
)

select * from final
