"""Built-in text of the sample web: sentences, anchors, titles and navigation words per language.

Every phrase is encodable in the legacy charset its language is served in (iso-8859-1 for de/fr/es,
windows-1251 for ru, shift_jis for ja, gbk for zh); tests/test_sample.py checks that.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LANGUAGES", "Language"]


@dataclass(frozen=True)
class Language:
    """Phrases of one language; `ui` is (home, archive, next, previous, not found)."""

    code: str
    direction: str
    sentences: tuple[str, ...]
    anchors: tuple[str, ...]
    titles: tuple[str, ...]
    ui: tuple[str, str, str, str, str]


_EN = Language("en", "ltr", (
    "The city council approved a new plan for the old harbour district.",
    "Most visitors arrive by train and walk along the river to the market.",
    "Our team tested twelve budget laptops over three weeks of daily use.",
    "The recipe works best with fresh tomatoes and a little olive oil.",
    "Researchers found that small changes in sleep habits improve concentration.",
    "The museum reopened after a long renovation with two new galleries.",
    "Prices for used bicycles rose sharply during the spring season.",
    "A short walk from the station leads to a quiet park with old oak trees.",
    "The library now lends tools, board games and musical instruments.",
    "Local farmers sell cheese, honey and bread every Saturday morning.",
    "The guide explains how to repair a flat tyre in ten minutes.",
    "Volunteers cleaned the beach and collected more than two hundred bags of plastic.",
    "The new bridge shortens the trip between the two villages by half an hour.",
    "Readers asked us to compare the three most popular note taking apps.",
), ("read the full report", "see the price list", "opening hours", "our test results",
    "the original article", "download the brochure", "more photos", "contact the author",
    "the city map", "the recipe"),
    ("Harbour news", "Travel & food notes", "Product review", "Kitchen diary", "Science weekly",
     "Museum guide", "City life"),
    ("Home", "Archive", "Next", "Previous", "Page not found"))

_DE = Language("de", "ltr", (
    "Der Stadtrat hat einen neuen Plan für den alten Hafen beschlossen.",
    "Die meisten Besucher kommen mit dem Zug und gehen am Fluss entlang zum Markt.",
    "Unser Team hat zwölf günstige Laptops drei Wochen lang im Alltag getestet.",
    "Das Rezept gelingt am besten mit frischen Tomaten und etwas Olivenöl.",
    "Forscher haben herausgefunden, dass kleine Änderungen beim Schlaf die Konzentration "
    "verbessern.",
    "Das Museum wurde nach einer langen Renovierung mit zwei neuen Sälen wieder eröffnet.",
    "Die Preise für gebrauchte Fahrräder sind im Frühling deutlich gestiegen.",
    "Ein kurzer Spaziergang vom Bahnhof führt zu einem ruhigen Park mit alten Eichen.",
    "Die Bibliothek verleiht jetzt auch Werkzeug, Brettspiele und Musikinstrumente.",
    "Bauern aus der Region verkaufen jeden Samstag Käse, Honig und Brot.",
    "Die Anleitung erklärt, wie man einen platten Reifen in zehn Minuten flickt.",
    "Freiwillige haben den Strand gereinigt und über zweihundert Säcke Plastik gesammelt.",
    "Die neue Brücke verkürzt den Weg zwischen den beiden Dörfern um eine halbe Stunde.",
    "Leser haben uns gebeten, die drei beliebtesten Notiz-Apps zu vergleichen.",
), ("den ganzen Bericht lesen", "zur Preisliste", "Öffnungszeiten", "unsere Testergebnisse",
    "der Originalartikel", "Broschüre herunterladen", "weitere Fotos", "den Autor kontaktieren",
    "Stadtplan", "zum Rezept"),
    ("Hafennachrichten", "Reisenotizen", "Produkttest", "Küchentagebuch",
     "Wissenschaft der Woche", "Museumsführer", "Stadtleben"),
    ("Startseite", "Archiv", "Weiter", "Zurück", "Seite nicht gefunden"))

_FR = Language("fr", "ltr", (
    "Le conseil municipal a approuvé un nouveau plan pour le vieux port.",
    "La plupart des visiteurs arrivent en train et longent la rivière jusqu'au marché.",
    "Notre équipe a testé douze ordinateurs portables pendant trois semaines.",
    "La recette est meilleure avec des tomates fraîches et un peu d'huile d'olive.",
    "Des chercheurs ont montré que de petits changements de sommeil améliorent la "
    "concentration.",
    "Le musée a rouvert après une longue rénovation avec deux nouvelles salles.",
    "Le prix des vélos d'occasion a fortement augmenté au printemps.",
    "À deux pas de la gare, un parc tranquille abrite de vieux chênes.",
    "La bibliothèque prête désormais des outils, des jeux de société et des instruments.",
    "Les agriculteurs vendent du fromage, du miel et du pain chaque samedi matin.",
    "Ce guide explique comment réparer un pneu crevé en dix minutes.",
    "Des bénévoles ont nettoyé la plage et ramassé plus de deux cents sacs de plastique.",
    "Le nouveau pont raccourcit le trajet entre les deux villages d'une demi-heure.",
    "Nos lecteurs nous ont demandé de comparer les trois applications de notes les plus "
    "populaires.",
), ("lire le rapport complet", "voir les tarifs", "horaires d'ouverture", "nos résultats de test",
    "l'article original", "télécharger la brochure", "plus de photos", "contacter l'auteur",
    "le plan de la ville", "la recette"),
    ("Nouvelles du port", "Carnet de voyage", "Test produit", "Journal de cuisine",
     "Science de la semaine", "Guide du musée", "Vie de quartier"),
    ("Accueil", "Archives", "Suivant", "Précédent", "Page introuvable"))

_ES = Language("es", "ltr", (
    "El ayuntamiento aprobó un nuevo plan para el antiguo barrio del puerto.",
    "La mayoría de los visitantes llega en tren y camina junto al río hasta el mercado.",
    "Nuestro equipo probó doce portátiles baratos durante tres semanas.",
    "La receta sale mejor con tomates frescos y un poco de aceite de oliva.",
    "Los investigadores descubrieron que pequeños cambios en el sueño mejoran la "
    "concentración.",
    "El museo reabrió tras una larga reforma con dos salas nuevas.",
    "El precio de las bicicletas usadas subió mucho en primavera.",
    "A pocos pasos de la estación hay un parque tranquilo con robles viejos.",
    "La biblioteca ahora presta herramientas, juegos de mesa e instrumentos musicales.",
    "Los agricultores venden queso, miel y pan todos los sábados por la mañana.",
    "La guía explica cómo reparar una rueda pinchada en diez minutos.",
    "Los voluntarios limpiaron la playa y recogieron más de doscientas bolsas de plástico.",
    "El nuevo puente acorta el viaje entre los dos pueblos en media hora.",
    "Los lectores nos pidieron comparar las tres aplicaciones de notas más populares.",
), ("leer el informe completo", "ver la lista de precios", "horario de apertura",
    "nuestros resultados", "el artículo original", "descargar el folleto", "más fotos",
    "contactar al autor", "el mapa de la ciudad", "la receta"),
    ("Noticias del puerto", "Cuaderno de viaje", "Análisis de producto", "Diario de cocina",
     "Ciencia semanal", "Guía del museo", "Vida urbana"),
    ("Inicio", "Archivo", "Siguiente", "Anterior", "Página no encontrada"))

_RU = Language("ru", "ltr", (
    "Городской совет утвердил новый план развития старого порта.",
    "Большинство туристов приезжают на поезде и идут к рынку вдоль реки.",
    "Наша команда три недели тестировала двенадцать недорогих ноутбуков.",
    "Этот рецепт лучше всего получается со свежими помидорами и оливковым маслом.",
    "Учёные выяснили, что небольшие изменения режима сна улучшают внимание.",
    "Музей снова открылся после долгой реставрации и получил два новых зала.",
    "Весной цены на подержанные велосипеды заметно выросли.",
    "В нескольких минутах ходьбы от вокзала находится тихий парк со старыми дубами.",
    "Библиотека теперь выдаёт инструменты, настольные игры и музыкальные инструменты.",
    "Местные фермеры каждую субботу продают сыр, мёд и хлеб.",
    "В инструкции рассказано, как за десять минут заклеить проколотую шину.",
    "Волонтёры убрали пляж и собрали более двухсот мешков пластика.",
    "Новый мост сокращает дорогу между двумя сёлами на полчаса.",
    "Читатели попросили нас сравнить три самых популярных приложения для заметок.",
), ("читать весь отчёт", "посмотреть цены", "часы работы", "результаты нашего теста",
    "оригинальная статья", "скачать брошюру", "больше фотографий", "написать автору",
    "карта города", "рецепт"),
    ("Новости порта", "Путевые заметки", "Обзор товара", "Кухонный дневник", "Наука за неделю",
     "Путеводитель по музею", "Жизнь города"),
    ("Главная", "Архив", "Далее", "Назад", "Страница не найдена"))

_JA = Language("ja", "ltr", (
    "市議会は古い港の地区を再開発する新しい計画を承認しました。",
    "多くの観光客は電車で到着し、川沿いを歩いて市場へ向かいます。",
    "私たちのチームは三週間かけて十二台の安いノートパソコンを試しました。",
    "このレシピは新鮮なトマトと少しのオリーブオイルで作るのが一番です。",
    "研究者たちは、睡眠の習慣を少し変えるだけで集中力が高まることを発見しました。",
    "博物館は長い改装を終え、二つの新しい展示室とともに再開しました。",
    "春になると中古自転車の値段が大きく上がりました。",
    "駅から少し歩くと、古い木がたくさんある静かな公園があります。",
    "図書館では工具やボードゲーム、楽器も貸し出すようになりました。",
    "地元の農家が毎週土曜日の朝にチーズや蜂蜜、パンを売っています。",
    "このガイドでは、パンクしたタイヤを十分で直す方法を説明します。",
    "ボランティアが海岸を掃除し、二百袋以上のプラスチックを集めました。",
    "新しい橋のおかげで、二つの村の間の移動が三十分短くなりました。",
    "読者から人気のメモアプリ三つを比較してほしいという声が届きました。",
), ("報告書を読む", "料金表を見る", "営業時間", "テスト結果", "元の記事",
    "パンフレットをダウンロード", "写真をもっと見る", "著者に連絡する", "市内地図", "レシピ"),
    ("港のニュース", "旅のメモ", "製品レビュー", "台所日記", "今週の科学", "博物館ガイド",
     "街の暮らし"),
    ("ホーム", "アーカイブ", "次へ", "前へ", "ページが見つかりません"))

_ZH = Language("zh", "ltr", (
    "市议会批准了改造老港区的新计划。",
    "大多数游客乘火车到达，然后沿着河边步行去市场。",
    "我们的团队用三周时间测试了十二台便宜的笔记本电脑。",
    "这个菜谱用新鲜的西红柿和少许橄榄油做最好吃。",
    "研究人员发现，睡眠习惯的小小改变就能提高注意力。",
    "博物馆经过长时间的翻修后重新开放，并新增了两个展厅。",
    "春天二手自行车的价格大幅上涨。",
    "从车站步行几分钟，就能到达一个有老橡树的安静公园。",
    "图书馆现在也出借工具、桌游和乐器。",
    "当地农民每个星期六早上出售奶酪、蜂蜜和面包。",
    "这篇指南介绍了如何在十分钟内修好漏气的轮胎。",
    "志愿者清理了海滩，收集了两百多袋塑料垃圾。",
    "新桥让两个村子之间的路程缩短了半个小时。",
    "读者希望我们比较三款最受欢迎的笔记应用。",
), ("阅读完整报告", "查看价格表", "营业时间", "我们的测试结果", "原文", "下载宣传册",
    "更多照片", "联系作者", "城市地图", "菜谱"),
    ("港口新闻", "旅行笔记", "产品评测", "厨房日记", "每周科学", "博物馆指南", "城市生活"),
    ("首页", "归档", "下一页", "上一页", "页面未找到"))

_AR = Language("ar", "rtl", (
    "وافق مجلس المدينة على خطة جديدة لتطوير منطقة الميناء القديم.",
    "يصل معظم الزوار بالقطار ثم يمشون على ضفة النهر إلى السوق.",
    "اختبر فريقنا اثني عشر حاسوبا محمولا رخيصا لمدة ثلاثة أسابيع.",
    "تنجح هذه الوصفة أكثر مع الطماطم الطازجة وقليل من زيت الزيتون.",
    "وجد الباحثون أن تغييرات صغيرة في عادات النوم تحسن التركيز.",
    "أعيد افتتاح المتحف بعد ترميم طويل مع قاعتين جديدتين.",
    "ارتفعت أسعار الدراجات المستعملة بشكل كبير في فصل الربيع.",
    "على بعد خطوات من المحطة توجد حديقة هادئة فيها أشجار بلوط قديمة.",
    "أصبحت المكتبة تعير الأدوات والألعاب والآلات الموسيقية.",
    "يبيع المزارعون الجبن والعسل والخبز كل يوم سبت صباحا.",
    "يشرح هذا الدليل كيفية إصلاح إطار مثقوب في عشر دقائق.",
    "نظف المتطوعون الشاطئ وجمعوا أكثر من مئتي كيس من البلاستيك.",
    "يختصر الجسر الجديد الطريق بين القريتين بنصف ساعة.",
    "طلب منا القراء مقارنة أشهر ثلاثة تطبيقات لتدوين الملاحظات.",
), ("اقرأ التقرير كاملا", "قائمة الأسعار", "ساعات العمل", "نتائج الاختبار", "المقال الأصلي",
    "تحميل الكتيب", "مزيد من الصور", "راسل الكاتب", "خريطة المدينة", "الوصفة"),
    ("أخبار الميناء", "مذكرات سفر", "مراجعة منتج", "يوميات المطبخ", "علوم الأسبوع",
     "دليل المتحف", "حياة المدينة"),
    ("الرئيسية", "الأرشيف", "التالي", "السابق", "الصفحة غير موجودة"))

LANGUAGES: dict[str, Language] = {
    lang.code: lang for lang in (_EN, _DE, _FR, _ES, _RU, _JA, _ZH, _AR)
}
