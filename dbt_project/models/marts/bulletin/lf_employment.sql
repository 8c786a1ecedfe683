{#- Long-form estimate: persons aged 16+ by whether they worked last week (1 yes, 2 no);
    the pct of category 1 is the employment rate. One row per region and category. -#}
{{ long_form_estimates('age >= 16', 'worked_last_week') }}
