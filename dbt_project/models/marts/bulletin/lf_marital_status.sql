{#- Long-form estimate: persons aged 15+ by marital status (婚姻状况), weighted, with jackknife
    standard errors and 95% intervals. One row per region and marital status code. -#}
{{ long_form_estimates('age >= 15', 'marital_status') }}
