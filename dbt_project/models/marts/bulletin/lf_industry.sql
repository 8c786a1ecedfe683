{#- Long-form estimate: persons who worked last week by industry section (GB/T 4754-2017,
    A..T). One row per region and section. -#}
{{ long_form_estimates("age >= 16 and worked_last_week = '1'", 'industry_section') }}
