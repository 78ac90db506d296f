from django.urls import path

from generations import views

urlpatterns = [
    path("", views.home, name="home"),
    path("generations/", views.create, name="create"),
    path("generations/cards/", views.cards, name="cards"),
    path("generations/<int:pk>/", views.detail, name="detail"),
    path("generations/<int:pk>/delete/", views.delete, name="delete"),
    path("usage/", views.usage_page, name="usage"),
    path("webhooks/rivya/", views.rivya_webhook, name="rivya-webhook"),
    path("generations/<int:pk>/favorite/", views.favorite, name="favorite"),
]
