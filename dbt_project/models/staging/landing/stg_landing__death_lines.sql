with source as (
    select * from {{ source('raw', 'death_lines') }}
),

final as (
    select
        submission_id,
        death_index,
        {{ json_code('sex') }} as sex,
        {{ json_string('birth_ym') }} as birth_ym,
        {{ json_string('death_ym') }} as death_ym,
        {{ normalise_id_number(json_string('id_number')) }} as id_number,
        {{ json_string('name') }} as person_name
    from source
)

select * from final
