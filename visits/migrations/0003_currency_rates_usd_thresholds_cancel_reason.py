import django.core.validators
from decimal import Decimal
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('visits', '0002_seed_policies_rules_scripts'),
    ]

    operations = [
        migrations.AddField(
            model_name='eventrule',
            name='usd_threshold',
            field=models.DecimalField(blank=True, decimal_places=2, max_digits=18, null=True, verbose_name='美元等值阈值'),
        ),
        migrations.AlterField(
            model_name='visit',
            name='cancelled_reason',
            field=models.CharField(blank=True, choices=[('account_closed', '账户已销户'), ('do_not_contact', '客户已设置勿扰')], max_length=200, verbose_name='取消原因'),
        ),
        migrations.CreateModel(
            name='CurrencyRate',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('code', models.CharField(max_length=3, unique=True, verbose_name='币种')),
                ('cny_per_unit', models.DecimalField(decimal_places=6, max_digits=18, validators=[django.core.validators.MinValueValidator(Decimal('0.000001'))], verbose_name='人民币参考汇率（每1单位）')),
                ('updated_at', models.DateTimeField(auto_now=True, verbose_name='更新时间')),
            ],
            options={
                'verbose_name': '参考汇率',
                'verbose_name_plural': '参考汇率',
                'ordering': ['code'],
                'constraints': [models.CheckConstraint(condition=models.Q(('cny_per_unit__gt', 0)), name='currency_rate_positive')],
            },
        ),
    ]
