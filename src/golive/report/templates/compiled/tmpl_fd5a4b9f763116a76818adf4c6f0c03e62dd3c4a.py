from jinja2.runtime import LoopContext, Macro, Markup, Namespace, TemplateNotFound, TemplateReference, TemplateRuntimeError, Undefined, escape, identity, internalcode, markup_join, missing, str_join
name = 'charts.html.j2'

def root(context, missing=missing):
    resolve = context.resolve_or_missing
    undefined = environment.undefined
    concat = environment.concat
    cond_expr_undefined = Undefined
    if 0: yield None
    l_0_timeline = l_0_metric = missing
    try:
        t_1 = environment.filters['length']
    except KeyError:
        @internalcode
        def t_1(*unused):
            raise TemplateRuntimeError("No filter named 'length' found.")
    pass
    def macro(l_1_t):
        t_2 = []
        if l_1_t is missing:
            l_1_t = undefined("parameter 't' was not provided", name='t')
        pass
        t_2.extend((
            '<svg class="timeline tl-',
            escape(environment.getattr(l_1_t, 'layout')),
            '" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ',
            escape(environment.getattr(l_1_t, 'width')),
            ' ',
            escape(environment.getattr(l_1_t, 'height')),
            '" role="img" aria-labelledby="tl-title-',
            escape(environment.getattr(l_1_t, 'layout')),
            ' tl-desc-',
            escape(environment.getattr(l_1_t, 'layout')),
            '">\n<title id="tl-title-',
            escape(environment.getattr(l_1_t, 'layout')),
            '">Timeline of the run</title>\n<desc id="tl-desc-',
            escape(environment.getattr(l_1_t, 'layout')),
            '">',
            escape(environment.getattr(l_1_t, 'bars')),
            ' step bars on the ',
            escape(environment.getattr(l_1_t, 'axis_label')),
            ', grouped by phase and coloured by outcome.</desc>\n<defs>\n  <pattern id="hatch-',
            escape(environment.getattr(l_1_t, 'layout')),
            '" patternUnits="userSpaceOnUse" width="5" height="5" patternTransform="rotate(45)">\n    <rect width="5" height="5" class="hatch-bg"/><line x1="0" y1="0" x2="0" y2="5" class="hatch-line"/>\n  </pattern>\n</defs>\n<g class="axis">\n',
        ))
        for l_2_k in environment.getattr(l_1_t, 'ticks'):
            _loop_vars = {}
            pass
            t_2.extend((
                '  <line class="gridline" x1="',
                escape(environment.getattr(l_2_k, 'x')),
                '" x2="',
                escape(environment.getattr(l_2_k, 'x')),
                '" y1="',
                escape((environment.getattr(l_1_t, 'top') - 4)),
                '" y2="',
                escape((environment.getattr(l_1_t, 'height') - 6)),
                '"/>\n  <text class="tick" x="',
                escape(environment.getattr(l_2_k, 'x')),
                '" y="',
                escape((environment.getattr(l_1_t, 'top') - 9)),
                '" text-anchor="',
                escape(environment.getattr(l_2_k, 'anchor')),
                '">',
                escape(environment.getattr(l_2_k, 'label')),
                '</text>\n',
            ))
        l_2_k = missing
        t_2.append(
            '</g>\n<g class="rows">\n',
        )
        for l_2_row in environment.getattr(l_1_t, 'rows'):
            _loop_vars = {}
            pass
            if (environment.getattr(l_2_row, 'kind') == 'group'):
                pass
                t_2.extend((
                    '  <rect class="grouprow" x="0" y="',
                    escape(environment.getattr(l_2_row, 'y')),
                    '" width="',
                    escape(environment.getattr(l_1_t, 'width')),
                    '" height="',
                    escape(environment.getattr(l_1_t, 'group_h')),
                    '"/>\n  <text class="grouplabel" x="6" y="',
                    escape(((environment.getattr(l_2_row, 'y') + environment.getattr(l_1_t, 'group_h')) - 9)),
                    '"><title>',
                    escape(environment.getattr(l_2_row, 'full')),
                    '</title>',
                    escape(environment.getattr(l_2_row, 'title')),
                    '</text>\n',
                ))
                if environment.getattr(l_2_row, 'span'):
                    pass
                    t_2.extend((
                        '<rect class="span o-',
                        escape(environment.getattr(l_2_row, 'outcome')),
                        '" x="',
                        escape(environment.getattr(environment.getattr(l_2_row, 'span'), 'x')),
                        '" y="',
                        escape((environment.getattr(l_2_row, 'y') + 10)),
                        '" width="',
                        escape(environment.getattr(environment.getattr(l_2_row, 'span'), 'w')),
                        '" height="6" rx="1"><title>',
                        escape(environment.getattr(l_2_row, 'full')),
                        '</title></rect>',
                    ))
            else:
                pass
                t_2.extend((
                    '  <text class="steplabel" x="',
                    escape(environment.getattr(l_1_t, 'label_x')),
                    '" y="',
                    escape((environment.getattr(l_2_row, 'y') + environment.getattr(l_1_t, 'label_dy'))),
                    '">',
                    escape(environment.getattr(l_2_row, 'title')),
                    '</text>\n',
                ))
                if environment.getattr(l_2_row, 'bar'):
                    pass
                    t_2.extend((
                        '  <rect class="bar o-',
                        escape(environment.getattr(l_2_row, 'outcome')),
                        '" data-step="',
                        escape(environment.getattr(l_2_row, 'id')),
                        '" data-outcome="',
                        escape(environment.getattr(l_2_row, 'outcome')),
                        '" x="',
                        escape(environment.getattr(environment.getattr(l_2_row, 'bar'), 'x')),
                        '" y="',
                        escape(environment.getattr(environment.getattr(l_2_row, 'bar'), 'y')),
                        '" width="',
                        escape(environment.getattr(environment.getattr(l_2_row, 'bar'), 'w')),
                        '" height="',
                        escape(environment.getattr(l_1_t, 'bar_h')),
                        '" rx="2"><title>',
                        escape(environment.getattr(environment.getattr(l_2_row, 'bar'), 'tip')),
                        '</title></rect>\n',
                    ))
                else:
                    pass
                    t_2.extend((
                        '  <text class="notrun" x="',
                        escape(((environment.getattr(l_1_t, 'plot_x0') + 6) if (environment.getattr(l_1_t, 'layout') == 'wide') else environment.getattr(l_1_t, 'plot_x0'))),
                        '" y="',
                        escape(((environment.getattr(l_2_row, 'y') + 15) if (environment.getattr(l_1_t, 'layout') == 'wide') else (environment.getattr(l_2_row, 'y') + 26))),
                        '">',
                        escape(environment.getattr(l_2_row, 'note')),
                        '</text>\n',
                    ))
        l_2_row = missing
        t_2.append(
            '</g>\n<g class="markers">\n',
        )
        for l_2_m in environment.getattr(l_1_t, 'markers'):
            _loop_vars = {}
            pass
            t_2.extend((
                '  <g class="marker mk-',
                escape(environment.getattr(l_2_m, 'kind')),
                '">\n    <title>',
                escape(environment.getattr(l_2_m, 'tip')),
                '</title>\n    <line x1="',
                escape(environment.getattr(l_2_m, 'x')),
                '" x2="',
                escape(environment.getattr(l_2_m, 'x')),
                '" y1="',
                escape((environment.getattr(l_2_m, 'ly') + 3)),
                '" y2="',
                escape((environment.getattr(l_1_t, 'height') - 6)),
                '"/>\n    <text x="',
                escape(environment.getattr(l_2_m, 'lx')),
                '" y="',
                escape(environment.getattr(l_2_m, 'ly')),
                '" text-anchor="',
                escape(environment.getattr(l_2_m, 'anchor')),
                '">',
                escape(environment.getattr(l_2_m, 'label')),
                '</text>\n  </g>\n',
            ))
        l_2_m = missing
        t_2.append(
            '</g>\n</svg>\n',
        )
        return concat(t_2)
    context.exported_vars.add('timeline')
    context.vars['timeline'] = l_0_timeline = Macro(environment, macro, 'timeline', ('t',), False, False, False, context.eval_ctx.autoescape)
    yield '\n'
    def macro(l_1_id, l_1_c):
        t_3 = []
        if l_1_id is missing:
            l_1_id = undefined("parameter 'id' was not provided", name='id')
        if l_1_c is missing:
            l_1_c = undefined("parameter 'c' was not provided", name='c')
        pass
        t_3.extend((
            '<svg class="metric mc-',
            escape(environment.getattr(l_1_c, 'layout')),
            '" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ',
            escape(environment.getattr(l_1_c, 'width')),
            ' ',
            escape(environment.getattr(l_1_c, 'height')),
            '" role="img" aria-label="Metric series of trigger ',
            escape(l_1_id),
        ))
        for l_2_l in environment.getattr(l_1_c, 'lines'):
            _loop_vars = {}
            pass
            t_3.extend((
                ', ',
                escape(environment.getattr(l_2_l, 'label')),
            ))
        l_2_l = missing
        t_3.extend((
            '" data-trigger="',
            escape(l_1_id),
            '">\n<rect class="plot" x="',
            escape(environment.getattr(l_1_c, 'x0')),
            '" y="',
            escape(environment.getattr(l_1_c, 'y1')),
            '" width="',
            escape((environment.getattr(l_1_c, 'x1') - environment.getattr(l_1_c, 'x0'))),
            '" height="',
            escape((environment.getattr(l_1_c, 'y0') - environment.getattr(l_1_c, 'y1'))),
            '"/>\n',
        ))
        for l_2_l in environment.getattr(l_1_c, 'lines'):
            _loop_vars = {}
            pass
            if (environment.getattr(l_2_l, 'shade') and (environment.getattr(environment.getattr(l_2_l, 'shade'), 'h') > 0)):
                pass
                t_3.extend((
                    '<rect class="breach-zone" x="',
                    escape(environment.getattr(l_1_c, 'x0')),
                    '" y="',
                    escape(environment.getattr(environment.getattr(l_2_l, 'shade'), 'y')),
                    '" width="',
                    escape((environment.getattr(l_1_c, 'x1') - environment.getattr(l_1_c, 'x0'))),
                    '" height="',
                    escape(environment.getattr(environment.getattr(l_2_l, 'shade'), 'h')),
                    '"/>\n',
                ))
        l_2_l = missing
        for l_2_k in environment.getattr(l_1_c, 'yticks'):
            _loop_vars = {}
            pass
            t_3.extend((
                '<line class="gridline" x1="',
                escape(environment.getattr(l_1_c, 'x0')),
                '" x2="',
                escape(environment.getattr(l_1_c, 'x1')),
                '" y1="',
                escape(environment.getattr(l_2_k, 'y')),
                '" y2="',
                escape(environment.getattr(l_2_k, 'y')),
                '"/>\n<text class="tick" x="',
                escape((environment.getattr(l_1_c, 'x0') - 6)),
                '" y="',
                escape((environment.getattr(l_2_k, 'y') + 4)),
                '" text-anchor="end">',
                escape(environment.getattr(l_2_k, 'label')),
                '</text>\n',
            ))
        l_2_k = missing
        for l_2_k in environment.getattr(l_1_c, 'xticks'):
            _loop_vars = {}
            pass
            t_3.extend((
                '<text class="tick" x="',
                escape(environment.getattr(l_2_k, 'x')),
                '" y="',
                escape((environment.getattr(l_1_c, 'y0') + 17)),
                '" text-anchor="',
                escape(environment.getattr(l_2_k, 'anchor')),
                '">',
                escape(environment.getattr(l_2_k, 'label')),
                '</text>\n',
            ))
        l_2_k = missing
        for l_2_f in environment.getattr(l_1_c, 'fired'):
            _loop_vars = {}
            pass
            t_3.extend((
                '<g class="marker mk-fired"><title>',
                escape(environment.getattr(l_2_f, 'tip')),
                '</title>\n<line x1="',
                escape(environment.getattr(l_2_f, 'x')),
                '" x2="',
                escape(environment.getattr(l_2_f, 'x')),
                '" y1="',
                escape(environment.getattr(l_1_c, 'y1')),
                '" y2="',
                escape(environment.getattr(l_1_c, 'y0')),
                '"/>\n<text x="',
                escape((environment.getattr(l_2_f, 'x') - 3)),
                '" y="',
                escape((environment.getattr(l_1_c, 'y1') + 11)),
                '" text-anchor="end">fired</text></g>\n',
            ))
        l_2_f = missing
        for l_2_g in environment.getattr(l_1_c, 'gaps'):
            _loop_vars = {}
            pass
            t_3.extend((
                '<rect class="gap" x="',
                escape((environment.getattr(l_2_g, 'x') - 1)),
                '" y="',
                escape((environment.getattr(l_1_c, 'y0') - 7)),
                '" width="2" height="7"><title>',
                escape(environment.getattr(l_2_g, 'tip')),
                '</title></rect>\n',
            ))
        l_2_g = missing
        for l_2_l in environment.getattr(l_1_c, 'lines'):
            _loop_vars = {}
            pass
            t_3.extend((
                '<line class="threshold" x1="',
                escape(environment.getattr(l_1_c, 'x0')),
                '" x2="',
                escape(environment.getattr(l_1_c, 'x1')),
                '" y1="',
                escape(environment.getattr(l_2_l, 'y')),
                '" y2="',
                escape(environment.getattr(l_2_l, 'y')),
                '"><title>',
                escape(environment.getattr(l_2_l, 'label')),
                '</title></line>\n<text class="threshold-label" x="',
                escape((environment.getattr(l_1_c, 'x1') - 4)),
                '" y="',
                escape((environment.getattr(l_2_l, 'y') - 5)),
                '" text-anchor="end">',
                escape(environment.getattr(l_2_l, 'label')),
                '</text>\n',
            ))
        l_2_l = missing
        if (t_1(environment.getattr(l_1_c, 'points')) > 1):
            pass
            t_3.extend((
                '<polyline class="series" points="',
                escape(environment.getattr(l_1_c, 'path')),
                '"/>',
            ))
        for l_2_p in environment.getattr(l_1_c, 'points'):
            _loop_vars = {}
            pass
            if (environment.getattr(l_2_p, 'breach') or (t_1(environment.getattr(l_1_c, 'points')) <= 150)):
                pass
                t_3.append(
                    '<circle class="pt',
                )
                if environment.getattr(l_2_p, 'breach'):
                    pass
                    t_3.append(
                        ' breach',
                    )
                t_3.extend((
                    '" cx="',
                    escape(environment.getattr(l_2_p, 'x')),
                    '" cy="',
                    escape(environment.getattr(l_2_p, 'y')),
                    '" r="',
                    escape((3 if environment.getattr(l_2_p, 'breach') else 2.5)),
                    '"><title>',
                    escape(environment.getattr(l_2_p, 'tip')),
                    '</title></circle>',
                ))
        l_2_p = missing
        t_3.extend((
            '<line class="axisline" x1="',
            escape(environment.getattr(l_1_c, 'x0')),
            '" x2="',
            escape(environment.getattr(l_1_c, 'x1')),
            '" y1="',
            escape(environment.getattr(l_1_c, 'y0')),
            '" y2="',
            escape(environment.getattr(l_1_c, 'y0')),
            '"/>\n</svg>\n',
        ))
        return concat(t_3)
    context.exported_vars.add('metric')
    context.vars['metric'] = l_0_metric = Macro(environment, macro, 'metric', ('id', 'c'), False, False, False, context.eval_ctx.autoescape)

blocks = {}
debug_info = '3=18&4=25&5=35&6=37&8=43&13=46&14=51&15=59&19=72&20=75&21=79&22=85&23=92&25=111&26=118&27=122&29=143&35=154&36=159&37=161&38=163&39=171&46=188&47=197&48=217&49=226&50=233&52=243&53=248&54=256&56=264&57=269&59=279&60=284&61=286&62=294&64=300&65=305&67=313&68=318&69=328&71=336&72=343&73=346&75=370'