// How to connect a site form: Tilda's steps and a plain HTML form posting to a source's URL.
import { useI18n } from '../i18n.js';

const PLACEHOLDER_URL = 'https://…/api/v1/hooks/hk_…';

export function htmlExample(url) {
  return [
    `<form action="${url || PLACEHOLDER_URL}" method="post">`,
    '  <input name="name" placeholder="Имя">',
    '  <input name="phone" type="tel" placeholder="Телефон" required>',
    '  <input name="email" type="email" placeholder="Email">',
    '  <button>Отправить</button>',
    '</form>',
  ].join('\n');
}

export function FormsHelp({ url }) {
  const { t } = useI18n();
  return (
    <section className="card forms-help" aria-labelledby="forms-help-title" data-testid="forms-help">
      <h2 id="forms-help-title" className="forms-help-title">{t('forms.howTitle')}</h2>
      <h3 className="forms-help-sub">{t('forms.tildaTitle')}</h3>
      <ol className="forms-steps">
        <li>{t('forms.tilda1')}</li>
        <li>{t('forms.tilda2')}</li>
        <li>{t('forms.tilda3')}</li>
      </ol>
      <h3 className="forms-help-sub">{t('forms.htmlTitle')}</h3>
      <p>{t('forms.htmlText')}</p>
      <pre className="code forms-example" data-testid="forms-html-example">{htmlExample(url)}</pre>
      <p className="muted">{t('forms.scenarioHint')}</p>
    </section>
  );
}
